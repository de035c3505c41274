# Rules of the train stage (to be written).
