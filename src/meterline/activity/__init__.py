"""The activity log: who changed what, when, through which surface (docs/exports.md)."""
