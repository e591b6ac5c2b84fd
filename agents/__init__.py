"""hiergym.agents"""
