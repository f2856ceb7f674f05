"""Service requests and work orders (工单): lifecycle, dispatch, service levels, ratings and return visits."""
