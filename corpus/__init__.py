"""newsbot corpus: article model, loaders, cleaning and storage."""
