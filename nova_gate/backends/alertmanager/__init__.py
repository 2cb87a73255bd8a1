"""alertmanager"""
