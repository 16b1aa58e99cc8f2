"""The in-memory head: recent samples of every series.

``state`` holds the state (series table, postings, pages of open samples, encoded chunks) and the append
kernel pass; ``append`` is the Appender (validate, WAL write, apply), ``read`` the Querier and block
export, ``truncate`` drops data that went to blocks; ``head`` puts them together as :class:`Head`.
``head_kernels`` are their numba kernels. The modules import one way: state <- append, read, truncate
<- head.

May import chunks/ (XOR codec), index/postings, interfaces and the foundation; never wal/ (the WAL is
reached through the ``wal_write``/``wal_sync`` callables the DB hands over), block/, compact/, tiers/ or db.
"""
