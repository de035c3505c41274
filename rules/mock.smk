# Rules of the mock stage (to be written).
