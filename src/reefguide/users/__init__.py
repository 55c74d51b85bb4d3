"""Users: accounts and roles, user admin, pre-approval, password reset, the audit log."""
