// Empty translation unit: exists only to build the shared precompiled header.
