"""Who asks and who helps: households' help requests, volunteers signing up (with their phone
codes), and spreadsheet imports of either."""
