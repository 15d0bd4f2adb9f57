"""The collaborator side: the notices they receive and the migration they run in their clone."""
