"""Court-ready evidence reports (PDF and HTML) and the offline verifier page, for people without a terminal.

* :mod:`~consortium.report.reference`: the short evidence reference a report's QR code carries;
* :mod:`~consortium.report.content`: what a report says, from the verifier's structured result;
* :mod:`~consortium.report.pdf` / :mod:`~consortium.report.html`: the two renderings (fpdf2, Jinja2).

Layering: beside the client, above the evidence verifier, whose result it presents and never re-derives.
"""
