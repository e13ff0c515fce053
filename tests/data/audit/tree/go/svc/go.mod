module example.com/svc

go 1.22

require example.com/lib v1.0.0

replace example.com/lib => ../lib

replace example.com/outside => ../../../../../outside
