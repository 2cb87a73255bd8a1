"""secretsmanager"""
