# Rules of the predict stage (to be written).
