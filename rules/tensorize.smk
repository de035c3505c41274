# Rules of the tensorize stage (to be written).
