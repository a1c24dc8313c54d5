import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

application = get_wsgi_application()

# Chunked request bodies (ElevenLabs' post-call audio) would read as empty under WSGI without this.
from contactcenter.common.chunked import ChunkedBodyMiddleware  # noqa: E402

application = ChunkedBodyMiddleware(application)
