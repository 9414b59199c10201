"""The HTTP edge shared by every dialect: the body pipeline, the catch-all, health."""
