"""WSGI entry point, served by granian (`python -m scimserver.server`): each worker imports it
once, and it readies the worker's garbage collector for the requests to come (`settle`)."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")

# Container objects allocated (less those freed) between two collections of the youngest
# generation; Python's default is 700. bench/README.md, "The garbage collector", has the
# figures behind this one.
YOUNGEST_THRESHOLD = 10_000


def settle() -> None:
    """Import what the first request would (the URLconf, and with it every view), then move
    every object of the process into the collector's permanent generation (`gc.freeze`), and
    collect the youngest generation after YOUNGEST_THRESHOLD new container objects, not 700.

    The objects alive now (modules, classes, functions, settings: most of a worker's heap)
    live as long as the worker. Frozen, they are never traversed again: a full collection,
    which traversed them all (30-50 ms, every few large requests), costs about 1.5 ms. A
    Bulk of 1,000 operations allocates some 40,000 containers that live until it answers: at
    700 they were traversed by 57 young collections and 5 of the middle generation, at
    10,000 by 3 young ones and at most one middle. Cyclic garbage is still collected, after
    at most YOUNGEST_THRESHOLD allocations, so memory stays bounded.
    """
    import_module(settings.ROOT_URLCONF)
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])


application = get_wsgi_application()
settle()
