"""polystream's streaming core: schemas, topics, settings, the consumer loop, the sink port, metrics.

Every service imports from here; none writes its own loop, settings base or metrics.
"""
