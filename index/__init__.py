"""newsbot index: chunking, embeddings, FAISS and BM25 retrieval, and cited answers."""
