"""hiergym.wrappers"""
