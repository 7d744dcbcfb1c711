"""Use cases as plain functions: no request, g or session inside; they own transactions."""
