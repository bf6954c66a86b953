"""suitability"""
