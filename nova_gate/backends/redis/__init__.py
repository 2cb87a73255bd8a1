"""redis"""
