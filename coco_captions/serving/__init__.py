"""The exported model as its clients use it: loading, embedding, the query command."""
