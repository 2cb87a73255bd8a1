"""The checklist checks: thin tests binding an item id to a source and a rule."""
