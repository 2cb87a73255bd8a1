"""Post-deployment smoke tests (the only tests that write, with their own account)."""
