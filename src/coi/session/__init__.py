"""A session's life: plan, create, configure, start, run the tool, save, stop or delete."""
