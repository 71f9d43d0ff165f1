"""Authentication providers of the add-in server (xlwings Server imports ``auth.<name>``)."""
