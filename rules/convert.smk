# Rules of the convert stage (to be written).
