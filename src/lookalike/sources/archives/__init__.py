"""sources/archives"""
