"""polystream's streaming core: schemas, topics, settings, consumer loop, sink port, metrics.

Every service imports from here; none writes its own loop, settings base or metrics.
"""
