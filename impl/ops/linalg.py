"""TODO"""

METHODS = {}
