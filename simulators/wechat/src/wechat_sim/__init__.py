"""A simulator of the WeChat servers: mini-program API now, WeChat Pay later."""
