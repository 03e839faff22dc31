"""upstage-ocr: OCR for AI agents, in the shape of Upstage's Document OCR API.

Importing this package does no work: engines, HTTP clients and the job store are created on first use.
"""

from .errors import OCRError
from .models import OCRResult, Page, Word

__version__ = "0.1.0"
__all__ = ["OCRError", "OCRResult", "Page", "Word", "__version__"]
