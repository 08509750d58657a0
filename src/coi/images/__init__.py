"""Images: the base image, build recipes, publishing, versioned aliases and cleanup."""
