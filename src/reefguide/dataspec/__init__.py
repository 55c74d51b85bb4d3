"""The data specification: regions, assessment criteria and each region's criteria ranges."""
