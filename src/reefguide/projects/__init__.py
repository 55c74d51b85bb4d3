"""Projects and groups: sharing, and the access rules for everything a project holds."""
