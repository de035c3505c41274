# Rules of the evaluate stage (to be written).
