"""A middleware that uses the profile before DRF has authenticated anyone."""


class TouchProfileEarly:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.seen_early = bool(request.livelike_profile)  # anonymous here: False
        return self.get_response(request)
