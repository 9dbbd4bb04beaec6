//! Integration tests of the export engine against the simulator.
