"""WeChat Pay API v3 as WeChat serves it (``/v3``), and its sandbox calls (``/sandbox/pay``)."""
