import EvaldCore
import EvaldHTTP
