"""Media preprocessing: pure functions from the client's content parts to what backends take.

Nothing here does I/O or touches the event loop; the server runs it in an executor.
"""
