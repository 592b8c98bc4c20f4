"""Readers and writers for footage, result bundles, point clouds and exports."""
