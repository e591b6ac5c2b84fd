"""hiergym.algos"""
