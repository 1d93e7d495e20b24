"""Images in a conversation: where they come from (sources.py: data:, http(s) behind an SSRF
guard, file:// under configured roots), how they are read (decode.py: Pillow, limits checked
before pixels are decoded), and what a model without vision weights is told about them
(perception/: OCR, a classifier, colours, faces, a safety score, as a text block)."""
