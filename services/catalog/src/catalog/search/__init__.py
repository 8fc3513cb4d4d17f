"""Public product search and listing: Chinese substrings, pinyin, homophones, Latin typos."""
