"""`hftctl audit`: is a recording any good? Sequence breaks, gap marks, silences, feed latency and
clock drift, crossed books and trades outside the book, for any exchange hftctl reads.

The generic half lives here; what an exchange's messages mean (which stream is depth, where its
update ids are, how they chain, what a snapshot looks like) comes from the exchange's audit
reader, ``hftctl/exchanges/<exchange>/audit.py`` (``descriptor.audit()``).
"""
