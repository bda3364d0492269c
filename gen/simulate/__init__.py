"""A model's images through its Verilog on a simulator (`bnngen verify`, `bnngen demo`)."""
