"""Reference data that admins keep: places (provinces, communes, hamlets), the service
catalogue, and accounts with their API tokens."""
