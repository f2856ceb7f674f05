"""The firm's organisation: departments, staff profiles, dispatch rules, duty shifts, service levels and settings."""
