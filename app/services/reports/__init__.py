"""Reports of test runs and campaigns: built from the database, sealed, written as files."""
